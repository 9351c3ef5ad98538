"""Building blocks shared by both protocol families: BCD, checksums, the ±33H scramble, framer events."""
