"""exp, sigmoid and tanh built from arithmetic, for linalg.generic bodies.

(math.floor and math.absf remain: they lower to single instructions on every target.)
math.exp lowers to libm calls, which need fixed-width vectors to scalarize: on a scalable
(SVE) vector they cannot be unrolled and the results are wrong. Written with arith ops
only, these vectorize on every target. exp is Cephes' expf: exp(x) = 2^n * exp(r) with
n = round(x / ln 2), |r| <= ln(2)/2, and a degree-6 polynomial for exp(r) (about 1 ulp).
"""
from mlir import ir
from mlir.dialects import arith, math

LOG2E = 1.44269504088896341
LN2_HI = 0.693359375          # ln 2 split so n * LN2_HI is exact in float32
LN2_LO = -2.12194440e-4
EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
            1.6666665459e-1, 5.0000001201e-1)
# Below this exp(x) is under the smallest normal float (2^-126), where 2^n stops being
# representable as a biased exponent; above ln(FLT_MAX) it overflows (n would be 128).
EXP_MIN, EXP_MAX = -87.3, 88.37


def f32c(value: float) -> ir.Value:
    return arith.ConstantOp(ir.F32Type.get(), float(value)).result


def i32c(value: int) -> ir.Value:
    return arith.ConstantOp(ir.IntegerType.get_signless(32), value).result


def exp(x: ir.Value) -> ir.Value:
    x = arith.minimumf(arith.maximumf(x, f32c(EXP_MIN)), f32c(EXP_MAX))
    n = math.floor(arith.addf(arith.mulf(x, f32c(LOG2E)), f32c(0.5)))
    r = arith.subf(arith.subf(x, arith.mulf(n, f32c(LN2_HI))), arith.mulf(n, f32c(LN2_LO)))
    p = f32c(EXP_POLY[0])
    for c in EXP_POLY[1:]:
        p = arith.addf(arith.mulf(p, r), f32c(c))
    exp_r = arith.addf(arith.addf(arith.mulf(p, arith.mulf(r, r)), r), f32c(1.0))
    i32 = ir.IntegerType.get_signless(32)
    biased = arith.addi(arith.fptosi(i32, n), i32c(127))
    two_n = arith.bitcast(ir.F32Type.get(), arith.shli(biased, i32c(23)))
    return arith.mulf(exp_r, two_n)


def sigmoid(x: ir.Value) -> ir.Value:
    return arith.divf(f32c(1.0), arith.addf(f32c(1.0), exp(arith.negf(x))))


def tanh(x: ir.Value) -> ir.Value:
    """tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)): no overflow, absolute error ~1e-7."""
    magnitude = arith.subf(f32c(1.0), arith.divf(
        f32c(2.0), arith.addf(exp(arith.mulf(f32c(2.0), math.absf(x))), f32c(1.0))))
    return arith.select(arith.cmpf(arith.CmpFPredicate.OLT, x, f32c(0.0)),
                        arith.negf(magnitude), magnitude)
