"""Bundled Vensim models (data, not code): the `.mdl` files, their catalogue and scenarios."""
