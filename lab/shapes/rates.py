"""Open loop: each offered rate of --rates for --step-seconds, in turn; as many users as
offer it at --rate-per-user, all at once, so the rate is the step's from its first second."""

from locust import LoadTestShape


class Rates(LoadTestShape):
    use_common_options = True

    def tick(self):
        options = self.runner.environment.parsed_options
        rates = [float(rate) for rate in options.rates.split(",") if rate]
        if not rates:
            raise ValueError("the rates shape needs --rates, e.g. --rates 50,100,200")
        step = int(self.get_run_time() // options.step_seconds)
        if step >= len(rates):
            return None
        users = max(round(rates[step] / options.rate_per_user), 1)
        return users, users
