"""Design-space search: the tiling per activation precision, and the precision for a target frame rate.

- `search`: exhaustive tiling search per precision, the paper's binary search over 1..16 bits;
- `report`: the `vaqf dse` table and JSON report.
"""
