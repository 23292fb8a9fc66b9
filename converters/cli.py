"""``fsa-edge convert SRC DST``: the conversion pipeline on the command line."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.argument("output", type=click.Path(file_okay=False))
@click.option("--quantization", "-q", default="int8", show_default=True,
              type=click.Choice(["int8", "int8_float16", "int8_float32", "float16", "float32"]))
@click.option("--force", is_flag=True,
              help="Overwrite OUTPUT, and keep it even when the parity gate fails.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]),
              help="Device of the parity check.")
@click.option("--samples", type=click.Path(exists=True, dir_okay=False),
              help='JSONL of {"text": ...} for the parity gate (default: built-in sentences).')
@click.option("--max-abs-delta", default=1e-3, show_default=True, type=float,
              help="float32: largest allowed |Δ log-prob| per token.")
@click.option("--max-mean-delta", default=0.1, show_default=True, type=float,
              help="Quantized: largest allowed mean |Δ log-prob| (nats).")
@click.option("--min-agreement", default=0.8, show_default=True, type=float,
              help="Smallest allowed share of samples whose greedy outputs agree.")
def convert(source: str, output: str, quantization: str, force: bool, device: str,
            samples: str | None, max_abs_delta: float, max_mean_delta: float,
            min_agreement: float) -> None:
    """Convert a Hugging Face student (SOURCE) to CTranslate2 (OUTPUT), gated on parity."""
    from . import ParityThresholds
    from . import convert as run_convert

    report = run_convert(source, output, quantization=quantization, force=force, device=device,
                         samples=samples, thresholds=ParityThresholds(
                             max_abs_delta, max_mean_delta, min_agreement))
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
