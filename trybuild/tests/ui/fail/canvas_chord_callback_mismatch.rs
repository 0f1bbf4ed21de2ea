// A chord's callback receives the group's outputs as a `Vec`, not one output.

use taskq::canvas::{chord, group};

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

#[taskq::task]
async fn double(n: u32) -> u32 {
    n * 2
}

fn main() {
    let members = vec![fetch::new(1), fetch::new(2)];
    let _chord = chord(group(members), double::partial());
}
