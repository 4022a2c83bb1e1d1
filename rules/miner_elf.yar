/*
 * miner_elf.yar - cryptocurrency miners (XMRig family and friends) in ELF binaries
 *
 * What:  an ELF file (0x7F 'E' 'L' 'F' magic) containing a Stratum mining-protocol
 *        URL scheme (stratum+tcp://, stratum+ssl://, stratum+tls://, or JSON-RPC
 *        method names mining.subscribe / mining.authorize) together with a
 *        miner-specific marker (xmrig, --donate-level, cryptonight, RandomX,
 *        well-known Monero pool host names) - or at least three miner markers.
 * Why:   cryptojacking is the most common payload on compromised Linux servers
 *        and containers; dropped miners are usually stock XMRig builds.
 * FPs:   a user may knowingly run a miner; "high" (not "critical") leaves room
 *        for that. Generic crypto libraries (OpenSSL, libgcrypt, boost) do not
 *        contain Stratum URLs. Only ELF files are considered (cheap magic check
 *        first), scripts that download miners are covered by other rules.
 */

rule Vigil_ELF_CryptoMiner
{
    meta:
        id          = "VG-0013"
        description = "ELF binary with Stratum mining-protocol strings and XMRig/CryptoNight/RandomX markers"
        severity    = "high"
        category    = "miner"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $proto1 = "stratum+tcp://" nocase
        $proto2 = "stratum+ssl://" nocase
        $proto3 = "stratum+tls://" nocase
        $proto4 = "mining.subscribe"
        $proto5 = "mining.authorize"

        $m1  = "xmrig" nocase
        $m2  = "--donate-level"
        $m3  = "cryptonight" nocase
        $m4  = "randomx" nocase fullword
        $m5  = "cn/r" fullword
        $m6  = "rx/0" fullword
        $m7  = "donate.v2.xmrig.com"
        $m8  = "supportxmr.com"
        $m9  = "moneroocean.stream"
        $m10 = "nanopool.org"
        $m11 = "minexmr.com"
        $m12 = "c3pool.com"
        $m13 = "--cpu-max-threads-hint"
        $m14 = "\"max-threads-hint\""

    condition:
        uint32(0) == 0x464C457F and
        (
            (any of ($proto*) and any of ($m*)) or
            3 of ($m*)
        )
}
