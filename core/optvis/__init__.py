"""Optimising an *image* (not the weights) against a frozen classifier, split as Lucid/lucent's
`optvis` is: how the image is parameterised (param), what random transforms it survives
(transforms), what is maximised (objectives), and the one loop both features run (render)."""
