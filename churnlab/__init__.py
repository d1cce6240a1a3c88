"""ChurnLab: one churn workflow, wired as a monolith or as microservices."""
