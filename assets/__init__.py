"""The vendor's asset library and the engine that co-brands it for each partner.

``assets.cobrand`` is the engine: pure functions over bytes (no database, no app context), so
actors, views and the benchmark all call the same code.
"""
