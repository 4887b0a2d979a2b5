"""The original protocol replayed on the public row table (:mod:`.protocol`) and the questions it answers
(:mod:`.studies`)."""
