"""Model documentation, shipped with the package: the model reports read each loop inventory here."""
