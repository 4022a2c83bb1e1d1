/*
 * credential_theft.yar - credential dumping tools and infostealers
 *
 * What:  - Vigil_Tool_Mimikatz: Mimikatz (binary, PowerShell Invoke-Mimikatz,
 *          or reflectively loaded copies) recognised by at least two of its
 *          module::command strings and author/project markers, ASCII or UTF-16LE.
 *        - Vigil_Stealer_BrowserCredentials: a Windows PE that references the
 *          credential stores of at least two different browsers (Chrome/Edge/
 *          Brave/Opera/Yandex "User Data" directories, Firefox profiles) AND at
 *          least two credential artefacts (Login Data, logins.json, key4.db,
 *          encrypted_key, wallet.dat, Telegram tdata, ...). This is the profile
 *          of commodity infostealers (RedLine, Raccoon, Vidar, Lumma, ...).
 * Why:   credential theft precedes most ransomware and account-takeover incidents.
 * FPs:   Mimikatz strings appear in security-tool documentation and EDR
 *        signatures; requiring two distinct, tool-specific strings keeps plain
 *        mentions out. Password managers and browser migration/import tools do
 *        read other browsers' stores, so the stealer rule is "medium" and is
 *        restricted to PE files (cheap header check first). Browsers themselves
 *        only reference their own store.
 */

rule Vigil_Tool_Mimikatz
{
    meta:
        id          = "VG-0018"
        description = "Mimikatz credential-dumping tool strings (sekurlsa::, lsadump::, gentilkiwi, ...)"
        severity    = "high"
        category    = "credential-theft"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $c1  = "sekurlsa::logonpasswords" nocase ascii wide
        $c2  = "sekurlsa::pth" nocase ascii wide
        $c3  = "sekurlsa::tickets" nocase ascii wide
        $c4  = "lsadump::sam" nocase ascii wide
        $c5  = "lsadump::dcsync" nocase ascii wide
        $c6  = "lsadump::secrets" nocase ascii wide
        $c7  = "kerberos::golden" nocase ascii wide
        $c8  = "kerberos::ptt" nocase ascii wide
        $c9  = "privilege::debug" nocase ascii wide
        $c10 = "crypto::capi" nocase ascii wide
        $a1  = "gentilkiwi" nocase ascii wide
        $a2  = "Benjamin DELPY" nocase ascii wide
        $a3  = "mimikatz" nocase ascii wide
        $a4  = "mimilib" nocase ascii wide
        $a5  = "Invoke-Mimikatz" nocase ascii wide
        $a6  = "kiwi_msv1_0" nocase ascii wide

    condition:
        filesize < 30MB and
        (
            2 of ($c*) or
            (any of ($c*) and any of ($a*)) or
            3 of ($a*)
        )
}

rule Vigil_Stealer_BrowserCredentials
{
    meta:
        id          = "VG-0019"
        description = "PE referencing credential stores of several browsers (infostealer profile)"
        severity    = "medium"
        category    = "credential-theft"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $b1 = "\\Google\\Chrome\\User Data" nocase ascii wide
        $b2 = "\\Microsoft\\Edge\\User Data" nocase ascii wide
        $b3 = "\\BraveSoftware\\Brave-Browser\\User Data" nocase ascii wide
        $b4 = "\\Opera Software\\Opera" nocase ascii wide
        $b5 = "\\Yandex\\YandexBrowser\\User Data" nocase ascii wide
        $b6 = "\\Mozilla\\Firefox\\Profiles" nocase ascii wide
        $b7 = "\\Vivaldi\\User Data" nocase ascii wide
        $b8 = "\\Chromium\\User Data" nocase ascii wide

        $s1 = "Login Data" ascii wide
        $s2 = "logins.json" nocase ascii wide
        $s3 = "key4.db" nocase ascii wide
        $s4 = "encrypted_key" ascii wide
        $s5 = "wallet.dat" nocase ascii wide
        $s6 = "\\Telegram Desktop\\tdata" nocase ascii wide
        $s7 = "signons.sqlite" nocase ascii wide
        $s8 = "\\Exodus\\exodus.wallet" nocase ascii wide

    condition:
        uint16(0) == 0x5A4D and
        uint32(uint32(0x3C)) == 0x00004550 and
        2 of ($b*) and
        2 of ($s*)
}
