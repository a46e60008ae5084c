"""A local Slack: the Web API, rate limits, faults, a state store, and a driver for the bot.

- `server.SlackSandbox` / `server.running_sandbox` — the Web API over loopback HTTP;
- `state.SandboxState` — what was posted (read it in tests);
- `limits.RateLimits`, `limits.Faults` — Slack-like 429s, injected 429/500/timeouts;
- `blockkit.validate_blocks`, `blockkit.validate_view` — Block Kit limits;
- `driver.BotDriver` — signed slash commands, interactions and events to the bot;
- `users.seed_from_config`, `users.generate_users` — the people in the workspace.
"""

from bot.sandbox.limits import Faults, RateLimits
from bot.sandbox.server import SlackSandbox, running_sandbox

__all__ = ["Faults", "RateLimits", "SlackSandbox", "running_sandbox"]
