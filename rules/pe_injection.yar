/*
 * pe_injection.yar - process-injection API sets imported by Windows PE files
 *
 * What:  PE files (MZ header + "PE\0\0" signature at e_lfanew) whose import names
 *        contain a complete cross-process injection chain:
 *          - Vigil_PE_ProcessInjection: remote allocation (VirtualAllocEx /
 *            NtAllocateVirtualMemory) + remote write (WriteProcessMemory /
 *            NtWriteVirtualMemory) + remote execution (CreateRemoteThread(Ex),
 *            NtCreateThreadEx, RtlCreateUserThread, QueueUserAPC, NtQueueApcThread,
 *            (Wow64)SetThreadContext / NtSetContextThread).
 *          - Vigil_PE_ProcessHollowing: NtUnmapViewOfSection/ZwUnmapViewOfSection +
 *            remote write + SetThreadContext/NtSetContextThread + ResumeThread, the
 *            classic "RunPE" hollowing sequence.
 *        Import names are stored as plain ASCII in the hint/name table, and
 *        dynamically resolved APIs (GetProcAddress) usually appear as plain strings
 *        too, so simple string matching covers both.
 * Why:   this combination is the core of most loaders, RATs and injectors.
 * FPs:   debuggers, profilers, game overlays, accessibility tools and security
 *        products legitimately import the VirtualAllocEx + WriteProcessMemory +
 *        CreateRemoteThread triple, so Vigil_PE_ProcessInjection is "medium"
 *        (suspicious, not malicious on its own). Importing only VirtualAlloc /
 *        WriteProcessMemory without a remote-execution primitive does not match.
 *        The hollowing set (unmapping the image of another process) is rare in
 *        legitimate software, so it is "high". Strings use `fullword` so that
 *        e.g. VirtualAllocExNuma does not count as VirtualAllocEx.
 *        Only files that really are PE files are considered (cheap header check first).
 */

rule Vigil_PE_ProcessInjection
{
    meta:
        id          = "VG-0002"
        description = "PE imports a full remote process-injection API set (remote alloc + remote write + remote thread/APC/context)"
        severity    = "medium"
        category    = "injection"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $alloc1 = "VirtualAllocEx" fullword
        $alloc2 = "NtAllocateVirtualMemory" fullword
        $alloc3 = "ZwAllocateVirtualMemory" fullword

        $write1 = "WriteProcessMemory" fullword
        $write2 = "NtWriteVirtualMemory" fullword
        $write3 = "ZwWriteVirtualMemory" fullword

        $exec1 = "CreateRemoteThread" fullword
        $exec2 = "CreateRemoteThreadEx" fullword
        $exec3 = "NtCreateThreadEx" fullword
        $exec4 = "RtlCreateUserThread" fullword
        $exec5 = "QueueUserAPC" fullword
        $exec6 = "NtQueueApcThread" fullword
        $exec7 = "SetThreadContext" fullword
        $exec8 = "NtSetContextThread" fullword
        $exec9 = "Wow64SetThreadContext" fullword

    condition:
        uint16(0) == 0x5A4D and
        uint32(uint32(0x3C)) == 0x00004550 and
        any of ($alloc*) and
        any of ($write*) and
        any of ($exec*)
}

rule Vigil_PE_ProcessHollowing
{
    meta:
        id          = "VG-0003"
        description = "PE imports the process-hollowing (RunPE) API sequence: unmap section + remote write + set thread context + resume"
        severity    = "high"
        category    = "injection"
        author      = "vigil project"
        date        = "2026-11-29"

    strings:
        $unmap1  = "NtUnmapViewOfSection" fullword
        $unmap2  = "ZwUnmapViewOfSection" fullword

        $write1  = "WriteProcessMemory" fullword
        $write2  = "NtWriteVirtualMemory" fullword
        $write3  = "ZwWriteVirtualMemory" fullword

        $ctx1    = "SetThreadContext" fullword
        $ctx2    = "Wow64SetThreadContext" fullword
        $ctx3    = "NtSetContextThread" fullword

        $resume1 = "ResumeThread" fullword
        $resume2 = "NtResumeThread" fullword

    condition:
        uint16(0) == 0x5A4D and
        uint32(uint32(0x3C)) == 0x00004550 and
        any of ($unmap*) and
        any of ($write*) and
        any of ($ctx*) and
        any of ($resume*)
}
