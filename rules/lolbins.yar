/*
 * lolbins.yar - Windows "living off the land" download/execute cradles
 *
 * What:  - Vigil_LOLBin_DownloadCradle: built-in Windows tools abused to fetch
 *          payloads from a URL:
 *            certutil [-f] -urlcache [-split] [-f] http(s)://...
 *            bitsadmin /transfer <job> [/download] http(s)://...
 *        - Vigil_LOLBin_ScriptletExec: built-in tools abused to *execute*
 *          remote script code:
 *            mshta http(s)://... / mshta javascript:|vbscript:
 *            regsvr32 /i:http(s)://... scrobj.dll ("Squiblydoo")
 *            rundll32 javascript:"\..\mshtml,RunHTMLApplication"
 *        Case-insensitive, ASCII and UTF-16LE (LNK files, registry exports,
 *        scheduled tasks store command lines as UTF-16).
 * Why:   these cradles are staples of phishing payloads (LNK, HTA, BAT, macros).
 * FPs:   administrators do use bitsadmin/certutil to download files in
 *        deployment scripts, so the download rule is "medium". Remote scriptlet
 *        execution via mshta/regsvr32/rundll32 has essentially no legitimate
 *        use, so that rule is "high". All patterns require the tool name and the
 *        URL on the same line (bounded gaps), so documentation listing the
 *        flags alone does not match.
 */

rule Vigil_LOLBin_DownloadCradle
{
    meta:
        id          = "VG-0016"
        description = "certutil -urlcache or bitsadmin /transfer downloading from a URL"
        severity    = "medium"
        category    = "dropper"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $certutil  = /certutil(\.exe)?['"]?[ \t][^\r\n]{0,80}[-\/]urlcache[ \t][^\r\n]{0,80}(https?|ftp):\/\// nocase ascii wide
        $bitsadmin = /bitsadmin(\.exe)?['"]?[ \t][^\r\n]{0,80}\/transfer[ \t][^\r\n]{0,200}(https?|ftp):\/\// nocase ascii wide

    condition:
        filesize < 20MB and any of them
}

rule Vigil_LOLBin_ScriptletExec
{
    meta:
        id          = "VG-0017"
        description = "mshta/regsvr32/rundll32 executing remote or inline script code (mshta http, Squiblydoo, rundll32 javascript:)"
        severity    = "high"
        category    = "dropper"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $mshta    = /mshta(\.exe)?['"]?[ \t]{1,8}['"]?(https?:\/\/|javascript:|vbscript:)/ nocase ascii wide
        $regsvr32 = /regsvr32(\.exe)?['"]?[ \t][^\r\n]{0,60}\/i:['"]?(https?|ftp):\/\/[^\r\n]{0,200}scrobj/ nocase ascii wide
        $rundll32 = /rundll32(\.exe)?['"]?[ \t]{1,8}['"]?javascript:/ nocase ascii wide

    condition:
        filesize < 20MB and any of them
}
