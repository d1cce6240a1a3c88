"""A constant number of users (-u) for the whole run (-t)."""

from locust import LoadTestShape


class Steady(LoadTestShape):
    use_common_options = True  # -u and -t are read here, not ignored

    def tick(self):
        options = self.runner.environment.parsed_options
        if self.get_run_time() >= (options.run_time or 60):
            return None
        return options.num_users, options.num_users
