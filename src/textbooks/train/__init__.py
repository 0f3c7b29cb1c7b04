"""Training: pretraining and finetuning as recipes of one loop (paper §2.3).

recipe.py (the YAML schema), schedule.py (learning rate), data.py (which rows each step reads),
trainer.py (the loop), checkpoint.py (atomic checkpoints, exact resume), distributed.py (torchrun
ranks: DDP or FSDP), cli.py (`textbooks train`).
"""
