"""The cost model: cycles, frame rate and FPGA resources of an accelerator design (docs/cost-model.md).

- `workload`: what a lowered (`accel`) module asks of the engine, with the activation width symbolic;
- `model`: the formulas (cycles per layer, DSP/LUT/BRAM) — from first principles, not the paper's;
- `boards`: the board database (data-sheet figures, one TOML file per board);
- `calibration`: the three fitted constants and how they were fitted.
"""
