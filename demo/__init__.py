"""The main job: offline plans and verdicts, the local stack under a scripted scenario, and the
planned resource graph."""
