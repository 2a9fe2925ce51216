"""Keep many mailboxes current: the `Runner` and the token stores it uses.

>>> from inboxlink.sync import Runner, SQLiteStore
>>> runner = Runner(store=SQLiteStore(":memory:"), resolver=lambda key: ...,
...                 handler=lambda key, batch: None)

``RedisStore`` needs ``pip install 'inboxlink[redis]'``.
"""

from inboxlink.sync.runner import Handler, Resolver, RoundReport, Runner
from inboxlink.sync.store import RedisStore, SQLiteStore, TokenStore

__all__ = ["Handler", "RedisStore", "Resolver", "RoundReport", "Runner", "SQLiteStore",
           "TokenStore"]
