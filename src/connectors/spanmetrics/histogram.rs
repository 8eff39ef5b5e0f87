//! Duration histograms: explicit buckets (upstream's default) or a base-2
//! exponential histogram that starts at the finest scale and halves its
//! resolution whenever the observed range needs more than `max_size` buckets.

use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;

#[derive(Debug, Clone, PartialEq)]
pub enum Histogram {
    Explicit(Explicit),
    Exponential(Exponential),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Explicit {
    /// one more than the bounds: the last is the +Inf bucket
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
    pub min: f64,
    pub max: f64,
}

impl Explicit {
    pub fn new(bounds: usize) -> Explicit {
        Explicit { counts: vec![0; bounds + 1], sum: 0.0, count: 0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }

    /// Bucket `i` holds values in `(bounds[i-1], bounds[i]]`, as OTLP says.
    pub fn observe(&mut self, bounds: &[f64], v: f64) {
        self.counts[bounds.partition_point(|b| *b < v)] += 1;
        self.sum += v;
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

pub const MAX_SCALE: i32 = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Exponential {
    pub scale: i32,
    pub offset: i32,
    pub counts: Vec<u64>,
    pub zero_count: u64,
    pub sum: f64,
    pub count: u64,
    pub min: f64,
    pub max: f64,
    max_size: usize,
}

impl Exponential {
    pub fn new(max_size: usize) -> Exponential {
        Exponential {
            scale: MAX_SCALE,
            offset: 0,
            counts: Vec::new(),
            zero_count: 0,
            sum: 0.0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            max_size: max_size.max(1),
        }
    }

    /// The bucket of `v` at `scale`: bucket `i` holds `(base^i, base^(i+1)]`
    /// with `base = 2^(2^-scale)`.
    pub fn index(v: f64, scale: i32) -> i64 {
        (v.log2() * 2f64.powi(scale)).ceil() as i64 - 1
    }

    pub fn observe(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if v <= 0.0 || !v.is_finite() {
            self.zero_count += 1;
            return;
        }
        let mut idx = Exponential::index(v, self.scale);
        if self.counts.is_empty() {
            self.offset = idx as i32;
            self.counts.push(1);
            return;
        }
        loop {
            let low = idx.min(self.offset as i64);
            let high = idx.max(self.offset as i64 + self.counts.len() as i64 - 1);
            if ((high - low + 1) as usize) <= self.max_size {
                break;
            }
            self.downscale();
            idx >>= 1;
        }
        let idx = idx as i32;
        if idx < self.offset {
            let grow = (self.offset - idx) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = idx;
        } else if (idx - self.offset) as usize >= self.counts.len() {
            self.counts.resize((idx - self.offset) as usize + 1, 0);
        }
        self.counts[(idx - self.offset) as usize] += 1;
    }

    /// Halves the resolution: buckets `2i` and `2i+1` merge into `i`.
    fn downscale(&mut self) {
        let new_offset = self.offset >> 1;
        let mut merged: Vec<u64> = Vec::with_capacity(self.counts.len() / 2 + 1);
        for (i, c) in self.counts.iter().enumerate() {
            let j = (((self.offset + i as i32) >> 1) - new_offset) as usize;
            if j == merged.len() {
                merged.push(0);
            }
            merged[j] += c;
        }
        self.counts = merged;
        self.offset = new_offset;
        self.scale -= 1;
    }

    pub fn positive(&self) -> Buckets {
        Buckets { offset: self.offset, bucket_counts: self.counts.clone() }
    }
}
