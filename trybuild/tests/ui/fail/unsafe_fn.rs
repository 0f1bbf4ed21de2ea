#[taskq::task]
async unsafe fn poke(addr: usize) -> usize {
    addr
}

fn main() {}
