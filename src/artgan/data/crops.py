"""Random square crops at random scale: the one way training images are drawn."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class CropSampler:
    """Draws batches of random crops from decoded images.

    Normal mode: each crop covers ``uniform(min_scale, 1)`` of the image's shorter side,
    so non-square and mixed-size images are all usable. Patch mode (``crop_size`` set):
    each crop covers ``uniform(min_scale, 1) * crop_size`` source pixels, so one large
    painting yields many different training images (multi-scale patches).
    Crops are resized to ``resolution`` with antialiasing and flipped left-right at random.
    """

    def __init__(
        self,
        images: list[torch.Tensor],
        resolution: int,
        *,
        crop_size: int | None = None,
        min_scale: float = 0.6,
        hflip: bool = True,
    ) -> None:
        if not images:
            raise ValueError("CropSampler needs at least one image")
        self.images = images  # uint8 (3, H, W) each
        self.resolution = resolution
        self.crop_size = crop_size
        self.min_scale = min_scale
        self.hflip = hflip

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Returns float32 (batch, 3, R, R) in [-1, 1]."""
        return self.sample_with_boxes(batch, generator)[0]

    def sample_with_boxes(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(crops (batch, 3, R, R) in [-1, 1], boxes (batch, 4) long: image index, y, x, side).

        Boxes are in the stored image's pixels; they tell which crops overlap, which the
        memorisation check needs (overlapping crops of one image are not distinct works).
        """
        r = self.resolution
        # All random numbers for the batch in one call each: cheap and reproducible.
        idx = torch.randint(len(self.images), (batch,), generator=generator)
        u = torch.rand(batch, 4, generator=generator)
        out = torch.empty(batch, 3, r, r)
        boxes: list[tuple[int, int, int, int]] = []
        for i in range(batch):
            img = self.images[int(idx[i])]
            _, h, w = img.shape
            short = min(h, w)
            base = short if self.crop_size is None else min(self.crop_size, short)
            side = max(1, min(short, round(base * (self.min_scale + (1 - self.min_scale) * float(u[i, 0])))))
            y = int(float(u[i, 1]) * (h - side + 1)) if h > side else 0
            x = int(float(u[i, 2]) * (w - side + 1)) if w > side else 0
            boxes.append((int(idx[i]), y, x, side))
            crop = img[:, y : y + side, x : x + side].unsqueeze(0).float()
            if side != r:
                # Antialiased bicubic, close to PIL's filters: the antialiased *bilinear* used
                # before is a triangle filter that blurred every crop (fine-band std 0.13 vs
                # 0.16 for the same paintings downscaled by PIL), so generators learned blur.
                crop = F.interpolate(crop, size=(r, r), mode="bicubic", align_corners=False, antialias=side > r)
            crop = crop[0]
            if self.hflip and float(u[i, 3]) < 0.5:
                crop = crop.flip(-1)
            out[i] = crop
        return (out / 127.5 - 1.0).clamp_(-1, 1), torch.tensor(boxes, dtype=torch.long)


def random_crops(image: torch.Tensor, n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` crops of one image (C, H, W), at full resolution (no
    resizing, no flips: texture statistics keep their scale and orientation). -> (n, C, size, size)."""
    _, h, w = image.shape
    if size > min(h, w):
        raise ValueError(f"crop of {size} px does not fit an image of {w}x{h}")
    ys = torch.randint(h - size + 1, (n,), generator=generator).tolist()
    xs = torch.randint(w - size + 1, (n,), generator=generator).tolist()
    return torch.stack([image[:, y : y + size, x : x + size] for y, x in zip(ys, xs)])


def wrapped_crops(images: torch.Tensor, per_image: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """Crops of tileable images (B, C, H, W) at random offsets that wrap around the edges,
    so a crop may straddle the seam. -> (B * per_image, C, size, size)."""
    b, _, h, w = images.shape
    if size > min(h, w):
        raise ValueError(f"crop of {size} px does not fit images of {w}x{h}")
    # Tile 2x2 once, then every wrapped crop is a plain slice of the tiled canvas.
    tiled = images.repeat(1, 1, 2, 2)
    ys = torch.randint(h, (b * per_image,), generator=generator).tolist()
    xs = torch.randint(w, (b * per_image,), generator=generator).tolist()
    return torch.stack([tiled[i // per_image, :, y : y + size, x : x + size] for i, (y, x) in enumerate(zip(ys, xs))])
