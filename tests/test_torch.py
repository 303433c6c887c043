"""Cross-check with PyTorch when it is installed (skipped otherwise)."""
import numpy as np
import pytest

import softmax_fast as sf
from helpers import ALGORITHMS, DTYPES, logits

torch = pytest.importorskip("torch")

# Both libraries are accurate to a few ulp of the float32 result, PyTorch's float32 rounding of
# x - max included (DESIGN section 6: 15-70 ulp): 1e-5 relative covers float32 with logits of
# size ~10; float64 results agree far closer.
RTOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((32, 1000), -1), ((4, 7, 65), 1), ((3, 70001), -1),
                                        ((1000, 70), 0)])
def test_matches_torch(isa, algorithm, dtype, shape, axis):
    x = logits(np.random.default_rng(3), shape, dtype)
    t = torch.from_numpy(x)
    want = torch.softmax(t, dim=axis).numpy()
    np.testing.assert_allclose(sf.softmax(x, axis, algorithm=algorithm), want,
                               rtol=RTOL[dtype], atol=np.finfo(dtype).tiny)
    want_log = torch.log_softmax(t, dim=axis).numpy()
    np.testing.assert_allclose(sf.log_softmax(x, axis, algorithm=algorithm), want_log,
                               rtol=RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(sf.logsumexp(x, axis), torch.logsumexp(t, dim=axis).numpy(),
                               rtol=RTOL[dtype], atol=RTOL[dtype])
