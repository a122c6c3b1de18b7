"""Names and one-line help of the GAN plugin's recipes and adversarial losses, importable
without TensorFlow: ``gentk plugins`` lists them from here."""

from __future__ import annotations

__all__ = ["F_NAMES", "HELP", "LOSS_PAIRS", "RECIPE_HELP", "SCHEDULES"]

SCHEDULES = ("alternating", "simultaneous")

RECIPE_HELP = {
    "gan": "GAN on 2-D toy data (ring of 8 Gaussians): MLP generator and critic, non-saturating",
    "dcgan": "DCGAN on digits: transposed-conv generator, strided-conv critic, non-saturating loss",
    "wgan": (
        "WGAN on digits: Wasserstein loss, weight clipping 0.01, 5 critic steps, RMSprop-like Adam"
    ),
    "wgan-gp": (
        "WGAN-GP on digits: gradient penalty 10 on interpolates, 5 critic steps, Adam(1e-4, 0, .9)"
    ),
    "sngan": "SN-GAN on digits: hinge loss with a spectrally normalised critic",
    "lsgan": "Least-squares GAN on digits",
    "fgan": (
        "f-GAN on the 2-D ring: --set divergence=f-kl|f-reverse-kl|f-pearson|f-hellinger|"
        "f-jensen-shannon"
    ),
    "cgan": "Conditional GAN on digits: one-hot label into generator and critic (or projection)",
    "acgan": "AC-GAN on digits: label into the generator; the critic also classifies",
    "ssgan": (
        "Semi-supervised GAN on digits: C-class critic with an implicit fake class; "
        "labelled=N labelled examples"
    ),
}

LOSS_PAIRS = (
    "minimax",
    "nonsaturating",
    "softmax-minimax",
    "softmax-nonsaturating",
    "wasserstein",
    "hinge",
    "least-squares",
)
F_NAMES = ("kl", "reverse-kl", "pearson", "hellinger", "jensen-shannon", "gan")
HELP = {
    "minimax": "GAN minimax: critic -log D(x) - log(1 - D(G(z))); generator log(1 - D(G(z)))",
    "nonsaturating": "GAN non-saturating: the minimax critic; generator -log D(G(z))",
    "softmax-minimax": "minimax with a two-class softmax critic head ([B, 2] logits)",
    "softmax-nonsaturating": "non-saturating with a two-class softmax critic head",
    "wasserstein": "WGAN: critic E[s(fake)] - E[s(real)] (needs clipping, GP or spectral norm)",
    "hinge": "hinge: E[relu(1 - s(real))] + E[relu(1 + s(fake))]; generator -E[s(fake)]",
    "least-squares": "LSGAN: 0.5 E[(s(real) - 1)^2] + 0.5 E[s(fake)^2]; generator 0.5 E[(s - 1)^2]",
}
