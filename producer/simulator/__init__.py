"""An offline stand-in for the Coinbase Exchange WebSocket feed (see server.py)."""

from producer.simulator.market import PRODUCTS, Market, SimTrade, product_names
from producer.simulator.server import Misbehaviour, SimConfig, Simulator

__all__ = ["PRODUCTS", "Market", "Misbehaviour", "SimConfig", "SimTrade", "Simulator",
           "product_names"]
