"""Users added in steps (--step-users every --step-seconds) up to -u, to find where the
service saturates."""

from locust import LoadTestShape


class Ramp(LoadTestShape):
    use_common_options = True

    def tick(self):
        options, run_time = self.runner.environment.parsed_options, self.get_run_time()
        if run_time >= (options.run_time or 60):
            return None
        step = int(run_time // options.step_seconds) + 1
        users = min(step * options.step_users, options.num_users)
        return users, users
