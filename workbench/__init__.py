"""Small-balance re-billing workbench for Swiss utilities.

Finds the small open items that customers leave behind, decides per subscription whether to
re-bill, reassign, carry, write off or leave them open, and posts the result through a transit
account. Amounts are integer centimes (Rappen) everywhere.
"""

__version__ = "0.1.0"
