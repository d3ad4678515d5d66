// numpy's random stream in JavaScript: exactly
// numpy.random.default_rng(seed).standard_normal((count, dim), dtype=numpy.float32).
//
// default_rng(seed) is PCG64 seeded through SeedSequence; standard_normal with dtype float32
// is numpy's float32 ziggurat (random_standard_normal_f). Each part below ports numpy's source
// line for line (numpy/random/bit_generator.pyx, src/pcg64/pcg64.h, src/distributions/
// distributions.c); docs/web.md says how the port is checked against numpy.

import { FI_FLOAT, KI_FLOAT, WI_FLOAT, ZIGGURAT_NOR_INV_R_F, ZIGGURAT_NOR_R_F } from "./ziggurat.js";

// SeedSequence's hash constants (bit_generator.pyx).
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;
const XSHIFT = 16;
const POOL_SIZE = 4;

// PCG64's 128-bit multiplier (pcg64.h: PCG_DEFAULT_MULTIPLIER_HIGH, _LOW).
const MULTIPLIER = (2549297995355413924n << 64n) | 4865540595714422341n;
const MASK128 = (1n << 128n) - 1n;

/** A problem the caller can fix; the message says how (gantool.errors.GantoolError in Python). */
export class GantoolError extends Error {
  constructor(message) {
    super(message);
    this.name = "GantoolError";
  }
}

/** The seed as a BigInt, if it is one default_rng takes: a non-negative integer (Number or BigInt). */
export function checkSeed(seed) {
  if (typeof seed === "bigint" && seed >= 0n) return seed;
  if (typeof seed === "number" && Number.isSafeInteger(seed) && seed >= 0) return BigInt(seed);
  throw new GantoolError(`\`seed\` must be a non-negative integer (a Number up to 2**53 - 1, or a BigInt), got ${String(seed)}`);
}

/** SeedSequence's entropy words: the integer's 32-bit words, lowest first; [0] for 0. */
export function seedWords(seed) {
  let n = checkSeed(seed);
  if (n === 0n) return [0];
  const words = [];
  while (n > 0n) {
    words.push(Number(n & 0xffffffffn));
    n >>= 32n;
  }
  return words;
}

function hashmix(value, hashConst) {
  value = (value ^ hashConst[0]) >>> 0;
  hashConst[0] = Math.imul(hashConst[0], MULT_A) >>> 0;
  value = Math.imul(value, hashConst[0]) >>> 0;
  return (value ^ (value >>> XSHIFT)) >>> 0;
}

function mix(x, y) {
  const result = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
  return (result ^ (result >>> XSHIFT)) >>> 0;
}

/** SeedSequence(seed)'s pool (mix_entropy): POOL_SIZE uint32 words. */
export function seedPool(seed) {
  const entropy = seedWords(seed);
  const pool = new Array(POOL_SIZE);
  const hashConst = [INIT_A];
  for (let i = 0; i < POOL_SIZE; i++) pool[i] = hashmix(i < entropy.length ? entropy[i] : 0, hashConst);
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src], hashConst));
    }
  }
  for (let src = POOL_SIZE; src < entropy.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst], hashmix(entropy[src], hashConst));
  }
  return pool;
}

/** SeedSequence(seed).generate_state(nWords, uint32). */
export function generateState(seed, nWords) {
  const pool = seedPool(seed);
  const state = new Uint32Array(nWords);
  let hashConst = INIT_B;
  for (let i = 0; i < nWords; i++) {
    let value = (pool[i % POOL_SIZE] ^ hashConst) >>> 0;
    hashConst = Math.imul(hashConst, MULT_B) >>> 0;
    value = Math.imul(value, hashConst) >>> 0;
    state[i] = (value ^ (value >>> XSHIFT)) >>> 0;
  }
  return state;
}

// 128-bit integers as 8 limbs of 16 bits, lowest first: every limb product fits a double exactly.
function toLimbs(value) {
  const limbs = new Array(8);
  for (let i = 0; i < 8; i++) limbs[i] = Number((value >> BigInt(16 * i)) & 0xffffn);
  return limbs;
}

function fromLimbs(limbs) {
  let value = 0n;
  for (let i = 7; i >= 0; i--) value = (value << 16n) | BigInt(limbs[i]);
  return value;
}

const MULTIPLIER_LIMBS = toLimbs(MULTIPLIER);

/** numpy's PCG64 bit generator (XSL-RR output of a 128-bit LCG), with its buffered next_uint32. */
export class PCG64 {
  constructor(seed) {
    // PCG64.__init__: generate_state(4, uint64), each uint64 two little-endian uint32 words.
    const words = generateState(seed, 8);
    const u64 = (k) => (BigInt(words[2 * k + 1]) << 32n) | BigInt(words[2 * k]);
    const initState = (u64(0) << 64n) | u64(1);
    const initSeq = (u64(2) << 64n) | u64(3);
    // pcg_setseq_128_srandom_r.
    const inc = ((initSeq << 1n) | 1n) & MASK128;
    let state = inc;  // 0 * multiplier + inc
    state = (state + initState) & MASK128;
    state = (state * MULTIPLIER + inc) & MASK128;
    this.state = toLimbs(state);
    this.inc = toLimbs(inc);
    this.next = new Array(8);
    this.hasUint32 = false;
    this.uinteger = 0;
  }

  /** The 128-bit state as a BigInt (numpy: bit_generator.state["state"]["state"]). */
  get stateValue() {
    return fromLimbs(this.state);
  }

  /** Advance the LCG: state = state * multiplier + inc (mod 2**128). */
  step() {
    const s = this.state;
    const out = this.next;
    let carry = 0;
    for (let k = 0; k < 8; k++) {
      let acc = carry + this.inc[k];
      for (let i = 0; i <= k; i++) acc += s[i] * MULTIPLIER_LIMBS[k - i];
      carry = Math.floor(acc / 65536);
      out[k] = acc - carry * 65536;
    }
    this.next = s;
    this.state = out;
  }

  /** next_uint64 as [high 32 bits, low 32 bits]: step, then XSL-RR of the new state. */
  nextUint64() {
    this.step();
    const s = this.state;
    const high = ((((s[7] << 16) | s[6]) ^ ((s[3] << 16) | s[2])) >>> 0);
    const low = ((((s[5] << 16) | s[4]) ^ ((s[1] << 16) | s[0])) >>> 0);
    let rot = s[7] >>> 10;  // state >> 122: the top 6 bits
    let hi = high;
    let lo = low;
    if (rot >= 32) {
      [hi, lo] = [lo, hi];
      rot -= 32;
    }
    if (rot === 0) return [hi, lo];
    return [((hi >>> rot) | (lo << (32 - rot))) >>> 0, ((lo >>> rot) | (hi << (32 - rot))) >>> 0];
  }

  /** next_uint32: the low half of a 64-bit output, its high half kept for the next call. */
  nextUint32() {
    if (this.hasUint32) {
      this.hasUint32 = false;
      return this.uinteger;
    }
    const [high, low] = this.nextUint64();
    this.hasUint32 = true;
    this.uinteger = high;
    return low;
  }

  /** next_float: (next_uint32 >> 8) * 2**-24. */
  nextFloat() {
    return (this.nextUint32() >>> 8) * (1 / 16777216);
  }
}

const f32 = Math.fround;

/** random_standard_normal_f: one float32 standard normal from numpy's float32 ziggurat. */
export function standardNormalF32(rng) {
  for (;;) {
    const r = rng.nextUint32();
    const idx = r & 0xff;
    const sign = (r >>> 8) & 0x1;
    const rabs = (r >>> 9) & 0x0007fffff;
    let x = f32(rabs * WI_FLOAT[idx]);
    if (sign) x = -x;
    if (rabs < KI_FLOAT[idx]) return x;  // 99.3% of the time
    if (idx === 0) {
      // The tail beyond ziggurat_nor_r (C: float arithmetic and log1pf).
      for (;;) {
        const xx = f32(-ZIGGURAT_NOR_INV_R_F * f32(Math.log1p(-rng.nextFloat())));
        const yy = -f32(Math.log1p(-rng.nextFloat()));
        if (f32(yy + yy) > f32(xx * xx)) {
          return (rabs >>> 8) & 0x1 ? -f32(ZIGGURAT_NOR_R_F + xx) : f32(ZIGGURAT_NOR_R_F + xx);
        }
      }
    }
    // The wedge: float on the left, double exp on the right, as in C.
    if (f32(f32(f32(FI_FLOAT[idx - 1] - FI_FLOAT[idx]) * rng.nextFloat()) + FI_FLOAT[idx]) < Math.exp(-0.5 * x * x)) {
      return x;
    }
  }
}

function checkPositive(name, value) {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new GantoolError(`\`${name}\` must be a positive integer, got ${String(value)}`);
  }
}

/**
 * The latent batch of gantool's convention, row-major (count rows of dim):
 * numpy.random.default_rng(seed).standard_normal((count, dim), dtype=numpy.float32).
 */
export function latents(count, dim, seed) {
  checkPositive("count", count);
  checkPositive("dim", dim);
  const rng = new PCG64(seed);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < out.length; i++) out[i] = standardNormalF32(rng);
  return out;
}
