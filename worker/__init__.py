"""The t2i worker process: owns the device and the models; editors talk to it over ZeroMQ.

Only ``worker.protocol`` and ``worker.client`` are meant for editor-side code (they need the
standard library and pyzmq alone); everything else here runs inside the worker process.
"""

__version__ = "0.1.0"
