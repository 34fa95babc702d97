"""The customer's conversation, one router per feature."""
