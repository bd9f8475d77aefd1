"""The other variant's agent (named by its runtime_overrides.agent.command)."""
import os
import runpy

os.environ["AGENT_NAME"] = "other"
here = os.path.dirname(os.path.abspath(__file__))
runpy.run_path(os.path.join(here, "..", "agent.py"), run_name="__main__")
