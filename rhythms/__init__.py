"""What to say, to whom and when: rhythm definitions, scheduling, Block Kit, the outbox.

Never calls the Slack client; writes deliveries that `bot/` sends.
"""
