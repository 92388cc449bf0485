"""Training programmes: the pure rules (levels, progression, adherence) and a person's standing today."""
