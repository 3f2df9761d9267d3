"""How it is asked: engine, pacing, cost, the journal and the session that drives one run."""
