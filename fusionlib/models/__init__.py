"""Models: the metadata Random Forest (:mod:`.rf`), the image CNN (:mod:`.cnn`), the report's fusion heads
(:mod:`.heads`), robust fusions (:mod:`.fusions`), losses, training one head (:mod:`.train`) and many heads side by
side (:mod:`.bundle`)."""
