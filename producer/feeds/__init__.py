"""One module per exchange protocol; each turns raw WebSocket text into schema events."""

from __future__ import annotations

from producer.feeds.coinbase import CoinbaseExchangeFeed
from producer.feeds.coinbase_advanced import CoinbaseAdvancedFeed

FEEDS = {
    CoinbaseExchangeFeed.name: CoinbaseExchangeFeed,
    CoinbaseAdvancedFeed.name: CoinbaseAdvancedFeed,
}


def make_feed(protocol: str, products: list[str], channel: str, exchange: str = "coinbase"):
    """The feed for a protocol name ("coinbase" or "coinbase-advanced")."""
    try:
        feed_class = FEEDS[protocol]
    except KeyError:
        raise ValueError(f"unknown feed protocol {protocol!r}; known: {sorted(FEEDS)}") from None
    if feed_class is CoinbaseAdvancedFeed:
        channel = "market_trades"
    return feed_class(products, channel=channel, exchange=exchange)
