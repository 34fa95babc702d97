"""aiogram routers, callback data, keyboards and the template renderer (floor 3)."""
