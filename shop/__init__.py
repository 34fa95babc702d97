"""Business rules without Telegram (floor 2)."""
