from churnlab.domain.ingest import LoggedRecord, accept, ingest, record_ids


def test_a_single_record_keeps_the_request_id(customer):
    assert accept([customer], "abc").record_ids == ["abc"]
    assert record_ids("abc", 1) == ["abc"]


def test_batch_records_get_indexed_ids(customer):
    assert accept([customer] * 3, "abc").record_ids == ["abc:0", "abc:1", "abc:2"]
    assert record_ids("abc", 2) == ["abc:0", "abc:1"]


def test_ingest_hands_the_store_one_logged_record_per_record(customer):
    class Store:
        def record(self, entries):
            self.entries = list(entries)
            return len(self.entries)

    store = Store()
    accepted = accept([customer, customer], "req")
    assert ingest(store, accepted) == 2
    assert store.entries == [
        LoggedRecord("req:0", accepted.received_at, customer),
        LoggedRecord("req:1", accepted.received_at, customer),
    ]
