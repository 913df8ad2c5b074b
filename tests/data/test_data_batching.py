"""Flip, collate and aspect-ratio grouping."""

import torch
from torch.utils.data import RandomSampler, SequentialSampler

from roi_ablation.data import GroupedBatchSampler, aspect_ratio_group_ids, build_dataset, collate_fn
from roi_ablation.data.transforms import RandomHorizontalFlip, hflip


def sample():
    image = torch.rand(3, 6, 10)
    masks = torch.zeros(1, 6, 10, dtype=torch.uint8)
    masks[0, 1:4, 2:5] = 1
    return image, {
        "boxes": torch.tensor([[2.0, 1.0, 5.0, 4.0]]),
        "labels": torch.tensor([1]),
        "masks": masks,
        "image_id": 7,
    }


def test_hflip_keeps_boxes_on_their_masks():
    image, target = sample()
    f_image, f_target = hflip(image, target)
    assert torch.equal(f_image, image.flip(-1))
    assert f_target["boxes"].tolist() == [[5.0, 1.0, 8.0, 4.0]]
    ys, xs = torch.nonzero(f_target["masks"][0], as_tuple=True)
    assert [xs.min().item(), xs.max().item() + 1] == [5, 8]
    assert f_target["labels"] is target["labels"] and f_target["image_id"] == 7
    twice = hflip(*hflip(image, target))
    assert torch.equal(twice[0], image) and torch.equal(twice[1]["boxes"], target["boxes"])


def test_random_flip_follows_torch_rng():
    flip = RandomHorizontalFlip(0.5)
    image, target = sample()

    def decisions() -> list[bool]:
        return [not torch.equal(flip(image, target)[0], image) for _ in range(32)]

    torch.manual_seed(0)
    first = decisions()
    torch.manual_seed(0)
    assert decisions() == first and 0 < sum(first) < 32
    assert not torch.equal(RandomHorizontalFlip(1.0)(image, target)[0], image)
    assert RandomHorizontalFlip(0.0)(image, target)[0] is image


def test_collate_keeps_lists(coco):
    ds = build_dataset(coco.cfg(), "val", train=False)
    images, targets = collate_fn([ds[0], ds[1]])
    assert isinstance(images, list) and isinstance(targets, list)
    assert [i.shape for i in images] == [(3, 30, 40), (3, 25, 20)]
    assert [t["image_id"] for t in targets] == [1, 2]


def test_aspect_ratio_groups(coco):
    ds = build_dataset(coco.cfg(), "val", train=False)
    assert aspect_ratio_group_ids(ds) == [1, 0, 1, 1]  # 40x30, 20x25, 16x16, 24x12


def test_grouped_batches_cover_every_index_once():
    groups = [0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1]
    sampler = GroupedBatchSampler(SequentialSampler(range(11)), groups, batch_size=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 4
    assert sorted(i for b in batches for i in b) == list(range(11))
    assert batches[:3] == [[1, 2, 4], [0, 3, 5], [7, 8, 10]]
    assert all(len({groups[i] for i in b}) == 1 for b in batches[:3])


def test_grouped_batches_with_random_sampler():
    torch.manual_seed(0)
    groups = [i % 2 for i in range(50)]
    batches = list(GroupedBatchSampler(RandomSampler(range(50)), groups, batch_size=4))
    assert sorted(i for b in batches for i in b) == list(range(50))
    assert sum(len({groups[i] for i in b}) > 1 for b in batches) <= 1
