"""Run the map engine's tile function on a dask.distributed cluster.

Each tile (``[dask] tile_size`` px, 8192 by default: about 1 degree at 30 m)
is one task: the worker runs the same streaming pass as the local engine on
its tile, writes its own GeoTIFFs into the shared scratch folder and returns
the zone sums as a small vector.  The scratch folder must be visible to every
worker (a local disk for a LocalCluster, a shared file system otherwise).
"""

from __future__ import annotations

from ..exceptions import ConfigError

__all__ = ["run_tiles_dask"]


def run_tiles_dask(spec, tiles, scratch: str, address: str, task) -> list:
    """Submit one ``task(spec, tile, scratch, 2)`` per tile to the cluster at ``address``
    (``"local"``: LocalCluster); ``task`` is the executor's tile function
    (:func:`~karstsink.mapping.executor._tile_task`, passed in: no import cycle).

    Returns
    -------
    list
        ``task``'s ``((row, col), zone sums, counters, tile stores)`` per tile, in
        tile order.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise ConfigError("--dask needs dask.distributed: pip install 'karstsink[dask]'.") \
            from err

    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="20s")
        except OSError as err:
            raise ConfigError(f"Cannot reach the Dask scheduler at {address}: {err}") from err
    try:
        futures = [client.submit(task, spec, t, scratch, 2, pure=False) for t in tiles]
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
