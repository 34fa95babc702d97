"""Conversation steps. The FSM holds the step; the data (drafts, cart) is in the database."""

from aiogram.fsm.state import State, StatesGroup


class Checkout(StatesGroup):
    fulfilment = State()
    address = State()
    phone = State()
    notes = State()
    payment = State()
    summary = State()


class Browsing(StatesGroup):
    quantity = State()  # typing a quantity for a product
    search = State()  # typing what to search for


class Broadcasting(StatesGroup):
    compose = State()  # waiting for the text or photo
    audience = State()
    confirm = State()
