"""A quarter of the peak (-u), then the full peak for the middle fifth of the run, then back."""

from locust import LoadTestShape


class Spike(LoadTestShape):
    use_common_options = True

    def tick(self):
        options, run_time = self.runner.environment.parsed_options, self.get_run_time()
        seconds = options.run_time or 60
        if run_time >= seconds:
            return None
        peak = options.num_users
        in_spike = 0.4 * seconds <= run_time < 0.6 * seconds
        users = peak if in_spike else max(peak // 4, 1)
        return users, peak
