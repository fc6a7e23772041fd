"""tradelab: a toy trading-signal model for kiln's example pipeline.

Prices are generated (no market data is fetched), turned into features
and fed to a small classifier that predicts whether the next day's
return is positive.
"""

__version__ = "0.3.0"
