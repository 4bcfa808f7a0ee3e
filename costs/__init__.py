"""`make cost`: a monthly list-price estimate of the synthesized landing zone (see costs/estimate.py)."""
