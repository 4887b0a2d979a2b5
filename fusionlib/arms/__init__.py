"""Arms: what an arm is (:mod:`.settings`), running arms from settings dicts (:mod:`.runner`) and their results
(:mod:`.results`)."""
