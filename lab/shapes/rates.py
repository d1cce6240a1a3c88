"""Open loop: each offered rate of --rates for --step-seconds, in turn; as many users as
offer it at --rate-per-user, all at once (spawned at 1,000 a second), so the rate is the
step's from its first second.
Then --drain-seconds with the users kept but sending nothing, so that the calls still in flight
at the last step's end are answered (or time out) and logged rather than dropped."""

from locust import LoadTestShape

SPAWN_AT_ONCE = 1000  # users a second: a step's users all start in its first moments


class Rates(LoadTestShape):
    use_common_options = True

    def tick(self):
        options = self.runner.environment.parsed_options
        rates = [float(rate) for rate in options.rates.split(",") if rate]
        if not rates:
            raise ValueError("the rates shape needs --rates, e.g. --rates 50,100,200")
        step = int(self.get_run_time() // options.step_seconds)
        if step >= len(rates):
            if self.get_run_time() >= len(rates) * options.step_seconds + options.drain_seconds:
                return None
            self.runner.environment.offering = False
            step = len(rates) - 1
        users = max(round(rates[step] / options.rate_per_user), 1)
        return users, SPAWN_AT_ONCE
