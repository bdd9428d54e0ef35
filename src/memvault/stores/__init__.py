"""Store roles (:mod:`memvault.stores.base`) and their implementations, picked by URL
(:mod:`memvault.stores.registry`). Nothing outside this package branches on a backend."""
