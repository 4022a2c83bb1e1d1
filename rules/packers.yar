/*
 * packers.yar - executables packed with UPX
 *
 * What:  - Vigil_Packer_UPX: a PE whose first section header is named "UPX0",
 *          with a "UPX1" section name and the "UPX!" packer header in the first
 *          4 KiB (the PE headers area where UPX stores its pack header).
 *          The section-table offset is computed from the PE header
 *          (e_lfanew + 24 + SizeOfOptionalHeader), so no module is needed.
 *        - Vigil_Packer_UPX_ELF: an ELF file with the "UPX!" l_info header right
 *          after the program headers (first 1 KiB) plus either the UPX stub
 *          banner "$Info: This file is packed with the UPX" or a second "UPX!"
 *          pack header (UPX writes one near the end of the file).
 * Why:   packing hides the real code from static analysis and is very common
 *        in commodity malware; useful context for an analyst.
 * FPs:   packers are also widely used by legitimate software (installers,
 *        small tools, games), so both rules are only "low": they add context
 *        and a small score, never a malicious verdict on their own.
 *        The upx tool itself (which contains the "UPX!" string but is not
 *        packed) does not match because of the offset constraints.
 */

rule Vigil_Packer_UPX
{
    meta:
        id          = "VG-0004"
        description = "PE packed with UPX (UPX0/UPX1 section names and UPX! pack header)"
        severity    = "low"
        category    = "packer"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $upx1 = "UPX1\x00"
        $mark = "UPX!"

    condition:
        uint16(0) == 0x5A4D and
        uint32(uint32(0x3C)) == 0x00004550 and
        // name of the first section header == "UPX0"
        uint32(uint32(0x3C) + 24 + uint16(uint32(0x3C) + 20)) == 0x30585055 and
        $upx1 in (0 .. 0x1000) and
        $mark in (0 .. 0x1000)
}

rule Vigil_Packer_UPX_ELF
{
    meta:
        id          = "VG-0005"
        description = "ELF executable packed with UPX (UPX! l_info header after program headers)"
        severity    = "low"
        category    = "packer"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $mark = "UPX!"
        $info = "$Info: This file is packed with the UPX"

    condition:
        uint32(0) == 0x464C457F and
        $mark in (0 .. 0x400) and
        ($info or #mark >= 2)
}
