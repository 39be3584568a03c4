"""The two-tower stand-in for CLIP: frame–caption pairs of the mini-world, hard-negative captions, contrastive
pretraining of a small open_clip model, and its retrieval evaluation. Its checkpoint loads through the library's
real-CLIP path (`unloc.model.clip_loader`), exactly like OpenAI weights."""
