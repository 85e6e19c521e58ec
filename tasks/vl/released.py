"""The released Gentle-CLIP code's protocol as the vl task's preset `released` (`--task-param
preset=released`, with `--methods gentle_clip_released` for its objective).

Source: github.com/cauchy-max/Set-CLIP, general_version_lanuage/ (the authors' partial release):
end_to_end.py (`train`, `parse_args`, `__main__`), dataset.py (`get_transforms`), Collator.py (`collate`,
`get_simclr_pipeline_transform`), SimCSE.py, ResNet.py, CLIP_plus_copy.py (`ProjectionHead`). Each value
below names where it comes from; docs/task-guide.md ("vl", "The released protocol") says where the preset
follows that code and where it fixes it.
"""

from __future__ import annotations

EPOCH_ITEMS = 15_040  # end_to_end.py __main__: the first 15,040 entries of mscoco/captions.json
BATCH = 64  # end_to_end.py parse_args: --batch_size 64 (DataLoader drop_last=True)
EPOCHS = 30  # end_to_end.py: --epochs 32, the model saved after epoch 29 (the 30th)

RELEASED = {
    "dataset": "coco",  # COCO train2014 images, COCO captions
    "n_train": EPOCH_ITEMS,
    "subset": "first",  # the first items in the file's order, not a random subset
    "n_test": 0,  # the whole Karpathy test split (5,000 images), not in-batch 50-way top-1
    "encoder": "released",  # ResNet.py: torchvision ResNet-34, ImageNet weights, classifier removed
    "mode": "finetune",  # both towers train (the image tower at encoder_lr)
    "image_size": 224,  # dataset.py get_transforms: Resize(224, 224)
    "text_dropout": 0.3,  # SimCSE.py: dropout 0.3; the same caption twice gives the SimCSE text views
    "batch_size": BATCH,
    "paired_fraction": 22 / BATCH,  # end_to_end.py: --sup_num 22, the first 22 rows of each batch paired
    "steps": EPOCHS * (EPOCH_ITEMS // BATCH),  # 30 epochs of 235 full batches: 7,050 steps
    "optimizer": "adam",  # end_to_end.py train: torch.optim.Adam
    "lr": 1e-3,  # the projection heads (--lr)
    "encoder_lr": 1e-5,  # the towers: lr / 100
    "weight_decay": 1e-3,
    "schedule": "constant",  # the released ReduceLROnPlateau on the epoch's last loss is not reproduced
    "ssl_views": "original",  # Collator.collate: each row as it is and one SimCLR view of it
    "embed_dim": 256,  # CLIP_plus_copy.py ProjectionHead(projection_dim=256, dropout=0.1)
    "head_dropout": 0.1,
}
